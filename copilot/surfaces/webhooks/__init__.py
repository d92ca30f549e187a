"""Alert webhooks: Alertmanager's and a generic one. Authenticate, parse, call the service."""
