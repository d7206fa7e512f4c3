"""The web console and partner portal (docs/console.md)."""
