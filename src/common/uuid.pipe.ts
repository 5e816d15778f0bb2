import { type ArgumentMetadata, Injectable, type PipeTransform } from '@nestjs/common';
import { isUUID } from 'class-validator';
import { invalidField } from './api-error.js';

/** Path ids must be UUIDs; anything else is a 400 naming the parameter (before it reaches Postgres). */
@Injectable()
export class ParseUuidPipe implements PipeTransform<string, string> {
  transform(value: string, metadata: ArgumentMetadata): string {
    if (!isUUID(value)) throw invalidField(metadata.data ?? 'id', 'must be a UUID');
    return value.toLowerCase();
  }
}
