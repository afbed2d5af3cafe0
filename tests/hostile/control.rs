//! The control plane: tokens, browsers (CSRF, DNS rebinding), hooks and the clock.
