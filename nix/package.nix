# The `ephemeros` binary. Dependencies come from Cargo.lock (no hash to keep
# in sync); the workspace's tests run as flake checks, with their tools.
{
  lib,
  stdenv,
  rustPlatform,
  installShellFiles,
  src,
}:
let
  workspace = (lib.importTOML ../Cargo.toml).workspace.package;
in
rustPlatform.buildRustPackage {
  pname = "ephemeros";
  inherit (workspace) version;
  inherit src;

  cargoLock.lockFile = ../Cargo.lock;
  cargoBuildFlags = [
    "-p"
    "ephemeros"
  ];
  doCheck = false;

  nativeBuildInputs = [ installShellFiles ];
  postInstall = lib.optionalString (stdenv.buildPlatform.canExecute stdenv.hostPlatform) ''
    installShellCompletion --cmd ephemeros \
      --bash <($out/bin/ephemeros completions bash) \
      --fish <($out/bin/ephemeros completions fish) \
      --zsh <($out/bin/ephemeros completions zsh)
  '';

  meta = {
    description = "Build USB boot sticks for diskless Flatcar Container Linux + k3s nodes";
    license = with lib.licenses; [
      mit
      asl20
    ];
    mainProgram = "ephemeros";
    platforms = lib.platforms.linux;
  };
}
