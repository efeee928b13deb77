# Packages for one system, each a real derivation that is never built (its
# builder fails): enough for `nix flake check --no-build`.
{ lib, system }:
let
  # Every attribute of a builder's arguments is forced, so a reference to a
  # package this stand-in lacks fails here as it would with nixpkgs.
  drv =
    name: attrs: extra:
    builtins.deepSeq attrs (
      derivation {
        inherit name system;
        builder = "/bin/sh";
        args = [ "-c" "echo 'stand-in nixpkgs: not buildable' >&2; exit 1" ];
      }
      // extra
      // {
        meta = attrs.meta or { };
        passthru = attrs.passthru or { };
      }
    );
  pkg =
    pname: extra:
    drv pname { } (
      {
        inherit pname;
        version = "0";
        meta.mainProgram = pname;
      }
      // extra
    );
  isX86 = system == "x86_64-linux";
  stdenv = {
    hostPlatform = {
      inherit system;
      isx86_64 = isX86;
      isAarch64 = !isX86;
    };
    buildPlatform = stdenv.hostPlatform // {
      canExecute = platform: platform.system == system;
    };
    mkDerivation =
      attrs:
      drv (attrs.name or "${attrs.pname}-${attrs.version}") attrs {
        pname = attrs.pname or attrs.name;
        version = attrs.version or "0";
      };
  };
  self = {
    inherit lib stdenv system;
    callPackage =
      f: overrides:
      let
        fn = if builtins.isFunction f then f else import f;
        args = builtins.functionArgs fn;
        auto = builtins.intersectAttrs args self;
      in
      fn (auto // overrides);
    runCommand = name: env: script: drv name { inherit env script; } { };
    writeShellApplication =
      { name, text, runtimeInputs ? [ ], ... }@attrs:
      drv name attrs {
        pname = name;
        meta.mainProgram = name;
      };
    mkShell = attrs: drv "shell" attrs { };
    fetchFromGitHub =
      { owner, repo, rev, hash, ... }@attrs:
      assert builtins.match "sha256-[A-Za-z0-9+/]{43}=" hash != null;
      drv "source" attrs { };
    buildGoModule = attrs: stdenv.mkDerivation attrs;
    rustPlatform = {
      buildRustPackage =
        attrs:
        assert attrs ? cargoLock || attrs ? cargoHash;
        stdenv.mkDerivation attrs;
      importCargoLock = { lockFile, ... }@attrs: assert builtins.pathExists lockFile; drv "cargo-vendor" attrs { };
      cargoSetupHook = pkg "cargo-setup-hook" { };
      rustLibSrc = pkg "rust-lib-src" { };
    };
    installShellFiles = pkg "install-shell-files" { };
    glibc = pkg "glibc" { bin = pkg "glibc-bin" { }; };
    OVMF = pkg "OVMF" { fd = pkg "OVMF-fd" { }; };
    ipxe = pkg "ipxe" { };
    qemu = pkg "qemu" { };
    qemu_kvm = pkg "qemu" { };
    linuxPackages.kernel = pkg "linux" {
      modDirVersion = "6.12.0";
      version = "6.12.0";
      dev = pkg "linux-dev" { };
    };
    pkgsStatic.busybox = pkg "busybox" { version = "1.36.1"; };
    nixfmt-tree = pkg "treefmt" { };
  }
  # Plain tools, by their nixpkgs attribute names.
  // lib.genAttrs [
    "cargo"
    "clippy"
    "cpio"
    "dosfstools"
    "git"
    "gptfdisk"
    "jq"
    "kmod"
    "mtools"
    "nix"
    "nixfmt"
    "openssl"
    "rust-analyzer"
    "rustc"
    "rustfmt"
    "shadow"
    "shellcheck"
    "systemd"
    "util-linux"
    "xz"
    "zstd"
  ] (name: pkg name { });
in
self
