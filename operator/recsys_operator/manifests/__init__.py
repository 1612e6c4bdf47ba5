"""Pure builders: RecommenderSystem spec -> Kubernetes objects (plain dicts, server-side applied)."""
