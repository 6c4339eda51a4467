"""One node: the engine that runs rounds and stages, its typed events, the journal that keeps them,
and the view and metrics built from them."""
