// Jest `setupFiles`: the catalog's programs first on PATH (see programs.ts).
import { putCatalogProgramsOnPath } from './programs';

putCatalogProgramsOnPath();
