"""Verifying the requester before disclosing (11 CCR §7060-§7063): matching data points, levels, asking for more."""
