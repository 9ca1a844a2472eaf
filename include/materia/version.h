#ifndef MATERIA_VERSION_H
#define MATERIA_VERSION_H
#define MT_VERSION "0.1.0"
const char *mt_version(void);
#endif
