"""Chart rendering (matplotlib) behind the core's ChartRenderer port."""
