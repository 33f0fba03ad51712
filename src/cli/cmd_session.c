/* placeholder (issue 13) */
typedef int sg_placeholder_unit;
