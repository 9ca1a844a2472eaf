/* Helpers shared by `materia aimc` (cmd_aimc.c) and `materia energy` (cmd_energy.c). */
#ifndef MATERIA_CLI_AIMC_H
#define MATERIA_CLI_AIMC_H

#include <cjson/cJSON.h>

#include "materia/aimc.h"

/* The analog layers for a mapping: from --layers (explicit list) or from --model (zoo name,
 * architecture string, .json, or a .safetensors checkpoint) with --input CxT (default: the zoo
 * entry's or the checkpoint's input) and --classes (default: the model's).  Prints the error
 * and returns the exit status (0 on success); *name is malloc'd. */
int cli_aimc_layers(const char *cmd, const char *model, const char *input, long classes,
                    const char *layers, mt_aimc_layer **out, int *n, char **name);

/* "2,2,6,7,1,1" → n core counts (each ≥ 1).  Returns the exit status. */
int cli_aimc_parse_cores(const char *cmd, const char *s, int n, int *cores);

/* Map with optional override; natural[] (n) receives the natural core counts.  Exit status. */
int cli_aimc_map(const char *cmd, const mt_aimc_layer *L, int n, const mt_chip *chip,
                 const int *override, mt_aimc_map *map, int *natural);

cJSON *cli_aimc_map_json(const mt_aimc_map *m, const int *natural);
void cli_aimc_map_print(const mt_aimc_map *m, const int *natural);

#endif
