//! The DAG of nodes and `after` edges.
