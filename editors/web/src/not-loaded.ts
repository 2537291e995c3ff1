// What monaco-languageclient's MonacoVscodeApiWrapper imports only for its
// "extended" set-up (TextMate, VS Code's themes, the views and workbench
// layouts), which this page does not use (vite.config.ts points those
// packages here): left out of the build rather than shipped unused.

export default function notLoaded(): never {
  throw new Error("not part of the CodeLab web IDE's build (its editor uses the classic set-up)");
}
