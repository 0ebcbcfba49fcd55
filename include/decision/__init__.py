"""How a request waits for the officer's decision: the deferrable sensor, its trigger, the reminders."""
