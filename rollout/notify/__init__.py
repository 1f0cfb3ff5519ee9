"""Notifications: webhook receivers told of what the controller and people did.

events.py turns an audit entry into an event and its message (pure), sender.py delivers one
with retries and a signature, notifier.py tails the audit log in the controller's process and
sends, as leader only, each new entry once. Imports config, store and errors; never proxy.
"""
