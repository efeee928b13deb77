# A stand-in for nixpkgs, for evaluating the project's flake with a modern
# Nix where nixpkgs cannot be had (`cargo xtask ci` runs
# `nix flake check --no-build --all-systems --override-input nixpkgs path:…`).
# Written for this project: it offers what nix/*.nix use, with the same names
# and shapes, and makes every package a real (never built) derivation, so
# Nix's own checks run on the real flake: apps' programs are store paths,
# checks and packages are derivations on both systems, every attribute the
# flake uses exists. It says nothing about whether nixpkgs builds them.
{
  outputs =
    { self }:
    let
      lib = import ./lib.nix;
    in
    {
      inherit lib;
      legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] (
        system: import ./pkgs.nix { inherit lib system; }
      );
    };
}
