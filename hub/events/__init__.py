"""Results out: the outbox of result events that subscriptions (and later webhooks) deliver."""
