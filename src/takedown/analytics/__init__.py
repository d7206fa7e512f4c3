"""Reports over the event dataset: queries, charts, network-owner feeds."""
