"""The notification pipeline: scans that raise notifications, digest rounds that send them,
each person's e-mail preferences and the booster tips."""
