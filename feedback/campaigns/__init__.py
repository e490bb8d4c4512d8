"""Campaigns (填报任务): calls for reports, their tracker and reminders."""
