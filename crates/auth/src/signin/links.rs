//! Signing in on another device: a signed-in screen makes a single-use link; see `DeviceLink`.
