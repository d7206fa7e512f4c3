"""The console's pages and API, one module per subject, each with a
``ROUTES`` list (made with :func:`takedown.console.access.route`); the app
gathers every module of this package (:func:`takedown.console.app.create_app`)."""
