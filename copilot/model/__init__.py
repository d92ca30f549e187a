"""Model calls: every one goes through the gateway (litellm, redacted context)."""
