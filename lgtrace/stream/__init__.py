"""Moving events from where they happen to the consumer, in the shape it asked for."""
