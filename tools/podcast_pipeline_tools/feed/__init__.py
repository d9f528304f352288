"""Feed tools: `podcast-pipeline feed diff`, whether subscribers would notice a move to another feed."""
