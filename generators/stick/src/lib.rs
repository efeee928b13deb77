//! The boot stick image: GPT + FAT, the secrets volume, writing to a device.
