# The part of nixpkgs' `lib` the project's Nix files use (see flake.nix).
let
  inherit (builtins)
    attrNames
    concatStringsSep
    listToAttrs
    map
    ;
in
rec {
  genAttrs = names: f: listToAttrs (map (name: { inherit name; value = f name; }) names);
  optionalAttrs = cond: attrs: if cond then attrs else { };
  optionalString = cond: s: if cond then s else "";
  optional = cond: x: if cond then [ x ] else [ ];
  concatStrings = concatStringsSep "";
  mapAttrsToList = f: attrs: map (name: f name attrs.${name}) (attrNames attrs);
  importTOML = path: builtins.fromTOML (builtins.readFile path);
  getBin = drv: drv.bin or drv;
  getExe' = drv: name: "${getBin drv}/bin/${name}";
  getExe = drv: getExe' drv (drv.meta.mainProgram or drv.pname or (builtins.parseDrvName drv.name).name);
  licenses = {
    mit = { spdxId = "MIT"; };
    asl20 = { spdxId = "Apache-2.0"; };
  };
  platforms.linux = [ "x86_64-linux" "aarch64-linux" ];
  # File sets: the flake's own source is already only its tracked files;
  # the union/difference is checked for well-formed paths and then ignored.
  fileset = {
    unions = paths: { _fileset = map (p: assert builtins.isPath p; p) paths; };
    difference = base: remove: assert builtins.isPath base; {
      _fileset = [ base ];
      _remove = remove;
    };
    toSource = { root, fileset }: assert builtins.isPath root; builtins.seq fileset root;
  };
}
