import { ArgumentMetadata, Injectable, ValidationPipe } from '@nestjs/common';

const PRIMITIVES: ReadonlySet<unknown> = new Set([String, Number, Boolean]);

/**
 * Validates DTO classes (bodies, query objects) and rejects unknown fields. Primitive
 * params are left to their explicit parse pipes: the stock pipe would coerce "4.2e1"
 * or "" to a number before those pipes could reject it.
 */
@Injectable()
export class DtoValidationPipe extends ValidationPipe {
  constructor() {
    super({
      transform: true,
      whitelist: true,
      forbidNonWhitelisted: true,
      // A body of the wrong shape (array, string) is rejected instead of passing as empty.
      forbidUnknownValues: true,
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (PRIMITIVES.has(metadata.metatype)) return value;
    return super.transform(value, metadata);
  }
}
