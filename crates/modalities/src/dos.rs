//! dos — being written.
