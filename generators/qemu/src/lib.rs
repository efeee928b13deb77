//! Launching qemu like a node: OVMF, the stick, user networking.
