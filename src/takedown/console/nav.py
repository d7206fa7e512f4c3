"""The console's menus: every page a role reaches from the bar."""

OPERATOR = (("/", "Overview"), ("/status", "Status"), ("/numbers", "Numbers"), ("/events", "Events"),
            ("/tracker", "Tracker"), ("/commands", "Commands"),
            ("/notifications", "Notifications"), ("/partners", "Partners"),
            ("/audit", "Audit log"))
PARTNER = (("/", "Overview"), ("/my/ips", "Infected IPs"), ("/my/figures", "Weekly figures"),
           ("/my/reports", "Reports"), ("/my/tracker", "Tracker"), ("/my/claims", "Claims"),
           ("/my/keys", "API keys"))
