"""Quality inspection (质检, issue 18): checklists, weekly samples, scores, appeals."""
