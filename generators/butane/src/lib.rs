//! Butane (variant flatcar) to Ignition JSON.
