# CoreOS Ignition, the first-boot provisioner Flatcar runs. nixpkgs'
# `ignition` is an unrelated program, so it is built here from the release
# tag. The tag vendors its Go modules (vendorHash = null). `ignition` runs
# Ignition in the boot test's stand-in node; `ignition-validate` checks
# ignition.ign.
{
  lib,
  buildGoModule,
  fetchFromGitHub,
  util-linux,
}:
let
  version = "2.26.0";
in
buildGoModule {
  pname = "coreos-ignition";
  inherit version;

  src = fetchFromGitHub {
    owner = "coreos";
    repo = "ignition";
    rev = "v${version}";
    # NAR hash of the tag's tree (commit 7e288edd9a337a45e8670c5da5ffa7e3b4269cbb).
    hash = "sha256-dIvcWsItrZtxiFDC8zxCmFYQXfOtVHYXUTbG9PN4hFA=";
  };
  vendorHash = null;

  # The two main packages, as upstream's ./build names them.
  subPackages = [
    "internal"
    "validate"
  ];
  # cgo: Ignition reads filesystems through libblkid.
  buildInputs = [ util-linux ];
  ldflags = [ "-X github.com/coreos/ignition/v2/internal/version.Raw=v${version}" ];

  # Ignition dispatches on argv[0] (ignition, ignition-apply, ...).
  postInstall = ''
    mv $out/bin/internal $out/bin/ignition
    mv $out/bin/validate $out/bin/ignition-validate
  '';

  meta = {
    description = "First boot installer and configuration tool (CoreOS Ignition)";
    homepage = "https://github.com/coreos/ignition";
    license = lib.licenses.asl20;
    mainProgram = "ignition";
    platforms = lib.platforms.linux;
  };
}
