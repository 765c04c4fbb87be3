"""Intake (问题来源): problems and suggestions raised by staff or the public, triaged into items."""
