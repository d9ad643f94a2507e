//! charge_density — being written.
