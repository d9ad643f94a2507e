//! Periodic neighbour search (being written; see issue 2).
