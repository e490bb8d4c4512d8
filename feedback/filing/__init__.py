"""Filing field reports: submissions, attachments, drafts, approval, campaigns, imports."""
