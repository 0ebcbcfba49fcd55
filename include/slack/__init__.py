"""Everything Slack: the one client factory, the Block Kit messages, the interactivity callback."""
