{
  description = "ephemeros: diskless Flatcar Container Linux + k3s nodes booted from a USB stick";

  # One input. `nix flake update` moves the pin; flake.lock records it.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs =
    { nixpkgs, ... }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      # Everything below is built per system from ./nix. The nodes boot
      # x86_64 firmware (iPXE, OVMF in the boot test) whatever machine
      # builds the stick, so those files come from the x86_64 package set;
      # they are plain data files, substituted rather than run here.
      forAllSystems =
        f:
        nixpkgs.lib.genAttrs systems (
          system:
          f (
            import ./nix {
              pkgs = nixpkgs.legacyPackages.${system};
              nodePkgs = nixpkgs.legacyPackages.x86_64-linux;
            }
          )
        );
    in
    {
      packages = forAllSystems (outputs: outputs.packages);
      apps = forAllSystems (outputs: outputs.apps);
      checks = forAllSystems (outputs: outputs.checks);
      devShells = forAllSystems (outputs: { default = outputs.devShell; });
      formatter = forAllSystems (outputs: outputs.formatter);
    };
}
