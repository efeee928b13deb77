# `nix flake check`: the same ladder as `cargo xtask ci`, with every tool
# pinned. Each cargo check is the workspace with its vendored dependencies
# (from Cargo.lock), one command, and an empty output.
{
  lib,
  pkgs,
  src,
  ephemeros,
  coreos-ignition,
  toolEnv,
  testTools,
  # null where the builder cannot run the x86_64 stand-in node
  e2eEnv,
}:
let
  cargoCheck =
    name:
    {
      command,
      tools ? [ ],
      extraEnv ? { },
    }:
    pkgs.stdenv.mkDerivation {
      name = "ephemeros-${name}";
      inherit src;
      cargoDeps = pkgs.rustPlatform.importCargoLock { lockFile = ../Cargo.lock; };
      nativeBuildInputs = [
        pkgs.rustPlatform.cargoSetupHook
        pkgs.cargo
        pkgs.rustc
      ]
      ++ tools;
      env = {
        # Nested cargo runs (xtask building the binary) stay offline too.
        CARGO_NET_OFFLINE = "true";
      }
      // extraEnv;
      # HOME stays Nix's /homeless-shelter, which does not exist: tests
      # write only under TMPDIR (`cargo xtask nix-sandbox` proves it on
      # every CI run), and cargoSetupHook gives cargo a CARGO_HOME.
      buildPhase = ''
        runHook preBuild
        ${command}
        runHook postBuild
      '';
      installPhase = "touch $out";
    };
in
{
  rustfmt = cargoCheck "rustfmt" {
    command = "cargo fmt --all -- --check";
    tools = [ pkgs.rustfmt ];
  };

  clippy = cargoCheck "clippy" {
    # incompatible_msrv: nothing newer than Cargo.toml's rust-version (the
    # rustc this nixpkgs pins) may be used.
    command = "cargo clippy --workspace --all-targets --locked -- -D warnings -W clippy::incompatible_msrv";
    tools = [ pkgs.clippy ];
  };

  cargo-test = cargoCheck "cargo-test" {
    command = "cargo test --workspace --locked";
    # nix/test-tools.json's programs (nix-instantiate among them: xtask's
    # own tests parse small fixtures).
    tools = testTools;
    # As in `cargo xtask ci`: a missing tool fails a test instead of skipping it.
    extraEnv = toolEnv // {
      CI = "true";
    };
  };

  # The committed ignition.ign is what ignition.yml produces today. Compared
  # as JSON with sorted keys, so that either indentation passes here;
  # `cargo xtask ci` compares the bytes.
  ignition-fresh = pkgs.runCommand "ephemeros-ignition-fresh" { nativeBuildInputs = [ pkgs.jq ]; } ''
    cd ${src}
    ${lib.getExe ephemeros} ignite ignition.yml | jq -S . > "$TMPDIR/generated.json"
    jq -S . ignition.ign > "$TMPDIR/committed.json"
    if ! diff -u "$TMPDIR/committed.json" "$TMPDIR/generated.json"; then
      echo "ignition.ign is stale: run 'nix run .#ignite -- ignition.yml -p -o ignition.ign' and commit it" >&2
      exit 1
    fi
    touch $out
  '';

  # Real Ignition accepts it.
  ignition-validate = pkgs.runCommand "ephemeros-ignition-validate" { } ''
    ${coreos-ignition}/bin/ignition-validate ${src}/ignition.ign
    touch $out
  '';
}
// lib.optionalAttrs (e2eEnv != null) {
  # The stick boots: OVMF -> iPXE from the stick -> stand-in kernel and
  # initramfs over HTTP -> real Ignition applies ignition.ign. No "kvm"
  # system feature is required: the harness probes KVM with OVMF and uses
  # it only where the builder's sandbox has a /dev/kvm that the build user
  # can open and that really runs OVMF (rare: nixbld users usually cannot),
  # TCG otherwise. Its per-boot timeouts (240 s) are sized for TCG. The
  # initrd stage: the node stage's Debian userland comes from mmdebstrap and
  # Debian's archive, which a Nix build cannot reach. --no-https: nixpkgs'
  # OVMF is built without NETWORK_TLS_ENABLE (its `tlsSupport` defaults to
  # false), so it has no TlsAuthConfigDxe and ignores the CA list qemu hands
  # it (fw_cfg etc/edk2/https/cacerts); CI's Debian OVMF has it and runs the
  # HTTPS boots.
  e2e = cargoCheck "e2e" {
    command = "cargo xtask e2e --stage initrd --no-https";
    tools = testTools;
    extraEnv =
      toolEnv
      // e2eEnv
      // {
        E2E_OFFLINE = "1";
        # The stick is built by the packaged binary, not a second cargo build.
        E2E_EPHEMEROS = lib.getExe ephemeros;
      };
  };
}
