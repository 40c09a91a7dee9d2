"""Running graphs: superstep planning (``run``), execution (``drive``), the Runnable (``compiled``)."""
