# `nix run .#<app>`: thin wrappers that run one `ephemeros` subcommand with
# the pinned tools. A flag given on the command line still wins over these
# environment variables, and a variable the caller already set is kept.
{
  lib,
  writeShellApplication,
  git,
  ephemeros,
  toolEnv,
}:
let
  app = description: drv: {
    type = "app";
    program = lib.getExe drv;
    meta = { inherit description; };
  };

  # `export NAME="${NAME:-default}"` for each variable.
  exportDefaults =
    vars:
    lib.concatStrings (
      lib.mapAttrsToList (name: value: ''
        export ${name}="''${${name}:-${value}}"
      '') vars
    );

  wrap =
    subcommand: vars:
    writeShellApplication {
      name = "ephemeros-${subcommand}";
      # build-stick and ipxe ask git for the config repository's remote.
      runtimeInputs = [ git ];
      text = ''
        ${exportDefaults vars}
        exec ${lib.getExe ephemeros} ${subcommand} "$@"
      '';
    };

  build-stick = app "Build a boot stick on a device or an image file, with the pinned iPXE" (
    wrap "build-stick" { inherit (toolEnv) EPHEMEROS_IPXE_EFI; }
  );
in
{
  inherit build-stick;
  default = build-stick;

  ignite = app "Translate Butane (variant flatcar) to Ignition JSON" (wrap "ignite" { });

  qemu = app "Boot a stick or image in qemu under UEFI, as a node would" (
    wrap "qemu" {
      inherit (toolEnv) EPHEMEROS_QEMU EPHEMEROS_OVMF_CODE EPHEMEROS_OVMF_VARS;
    }
  );
}
