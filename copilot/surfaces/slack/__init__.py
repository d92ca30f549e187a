"""The Slack surface: Block Kit cards and, later, the bolt app on the same server."""
