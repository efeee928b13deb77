# Everything the flake exports for one system.
#   pkgs:     nixpkgs for the machine that builds and runs the tools
#   nodePkgs: nixpkgs for x86_64, the nodes' architecture; only firmware
#             files (iPXE, OVMF) are taken from it
{ pkgs, nodePkgs }:
let
  inherit (pkgs) lib;
  isX86 = pkgs.stdenv.hostPlatform.isx86_64;

  # The workspace without the Nix files, so that editing them rebuilds nothing.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.difference ../. (
      lib.fileset.unions [
        ../flake.nix
        ../flake.lock
        ./.
      ]
    );
  };

  ephemeros = pkgs.callPackage ./package.nix { inherit src; };
  coreos-ignition = pkgs.callPackage ./coreos-ignition.nix { };

  # qemu_kvm holds only the host's target; elsewhere the full qemu brings
  # qemu-system-x86_64 (TCG).
  qemu = if isX86 then pkgs.qemu_kvm else pkgs.qemu;

  # Where the tools find iPXE, qemu and OVMF (the contract's variables).
  toolEnv = {
    EPHEMEROS_IPXE_EFI = "${nodePkgs.ipxe}/ipxe.efi";
    EPHEMEROS_QEMU = lib.getExe' qemu "qemu-system-x86_64";
    EPHEMEROS_OVMF_CODE = "${nodePkgs.OVMF.fd}/FV/OVMF_CODE.fd";
    EPHEMEROS_OVMF_VARS = "${nodePkgs.OVMF.fd}/FV/OVMF_VARS.fd";
  };

  # The stand-in node of the boot test: a kernel with its modules, a static
  # busybox and real CoreOS Ignition. They run inside the x86_64 guest, so
  # they exist only where the builder is x86_64.
  kernel = pkgs.linuxPackages.kernel;
  # The kernel's lib/modules/<version>/ (modules are .ko.xz) with a
  # modules.dep made here, over symlinks, so that the harness can ask
  # modprobe for a load order whatever the kernel package ships.
  kernelModules =
    pkgs.runCommand "e2e-kernel-modules-${kernel.modDirVersion}" { nativeBuildInputs = [ pkgs.kmod ]; }
      ''
        mkdir -p $out/lib/modules
        cp -rs ${kernel}/lib/modules/${kernel.modDirVersion} $out/lib/modules/
        chmod -R u+w $out/lib/modules
        # `build` and `source` point into the kernel's dev output, which
        # would otherwise come along into the check's closure.
        rm -f $out/lib/modules/${kernel.modDirVersion}/build $out/lib/modules/${kernel.modDirVersion}/source
        depmod -b $out ${kernel.modDirVersion}
      '';
  e2eEnv = {
    # x86_64's kernel image (the check exists only there). Not
    # stdenv.hostPlatform.linux-kernel.target: nixpkgs dropped that after 25.11.
    E2E_KERNEL = "${kernel}/bzImage";
    E2E_KERNEL_MODULES = "${kernelModules}";
    E2E_BUSYBOX = "${busybox}/bin/busybox";
    E2E_IGNITION = "${coreos-ignition}/bin/ignition";
  };

  # A static busybox as the one command `busybox`: its applet links (ls, cp,
  # sed, ...) would otherwise shadow coreutils on PATH.
  busybox = pkgs.runCommand "busybox-static-${pkgs.pkgsStatic.busybox.version}" { } ''
    mkdir -p $out/bin
    ln -s ${pkgs.pkgsStatic.busybox}/bin/busybox $out/bin/busybox
  '';

  # What the tests call besides cargo: image checks, validators, and what
  # the boot test uses to assemble the stand-in initramfs. The one list is
  # nix/test-tools.json, shared with `cargo xtask nix-sandbox`, which runs
  # the test binaries on Debian with exactly those commands on PATH: a test
  # that needs a program not listed there fails in CI before it fails here.
  testToolList = builtins.fromJSON (builtins.readFile ./test-tools.json);
  # Entries that are the flake's own rather than nixpkgs attributes.
  ownTools = {
    inherit qemu busybox coreos-ignition;
    # ldd lives in glibc's bin output.
    glibc = lib.getBin pkgs.glibc;
  };
  testTools = map (name: ownTools.${name} or pkgs.${name}) (builtins.attrNames testToolList.packages);
in
{
  packages = {
    inherit ephemeros;
    # iPXE for this machine's architecture: x86_64 EFI here, arm64 EFI on
    # aarch64 (what `build-stick --arch arm64` wants as --ipxe-efi).
    inherit (pkgs) ipxe;
    default = ephemeros;
  };

  apps = import ./apps.nix {
    inherit lib ephemeros toolEnv;
    inherit (pkgs) writeShellApplication git;
  };

  checks = import ./checks.nix {
    inherit
      lib
      pkgs
      src
      ephemeros
      coreos-ignition
      toolEnv
      testTools
      ;
    # The boot test needs an x86_64 guest userland; see e2eEnv.
    e2eEnv = if isX86 then e2eEnv else null;
  };

  devShell = pkgs.mkShell {
    packages = [
      pkgs.cargo
      pkgs.rustc
      pkgs.clippy
      pkgs.rustfmt
      pkgs.rust-analyzer
      pkgs.nixfmt
    ]
    ++ testTools;
    env =
      toolEnv
      // lib.optionalAttrs isX86 e2eEnv
      // {
        RUST_SRC_PATH = "${pkgs.rustPlatform.rustLibSrc}";
      };
  };

  # `nix fmt`: nixfmt over every .nix file (a bare nixfmt would wait for
  # standard input, as newer Nix passes no arguments).
  formatter = pkgs.nixfmt-tree;
}
