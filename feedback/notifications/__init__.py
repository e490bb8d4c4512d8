"""In-app notifications and e-mail reminders."""
