"""Alerts on node down, restart loops, stalled rewards, failing chain submissions, memory and disk,
delivered by the instance supervisors to webhooks, Telegram bots and ntfy topics."""
