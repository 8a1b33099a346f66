"""StackDock data sources: Convex export snapshots, the bundled demo, Convex live sync."""
