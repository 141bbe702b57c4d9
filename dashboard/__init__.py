"""The staff dashboard: one page at ``/dashboard/`` that shows how events and AI
messages are being processed, updates itself, and submits events and retries."""
