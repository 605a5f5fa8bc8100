// The bundler loads .yaml files as text (scripts/bundle.mjs: loader ".yaml": "text").
declare module "*.yaml" {
  const text: string;
  export default text;
}
