// Local placeholder: the foundation branch owns this target.
