import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length, Matches } from 'class-validator';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const NAME_RULE = 'must start with a letter or digit and contain only letters, digits, ".", "_" and "-"';

export class RegisterModelDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'qwen2-0.5b' })
  @IsString()
  @Length(1, 200)
  @Matches(NAME, { message: NAME_RULE })
  name: string;

  @ApiProperty({
    description:
      'Absolute path of an HF-format directory (config.json + *.safetensors) on the workers` disk, inside one of POPO_MODEL_ROOTS.',
  })
  @IsString()
  @Length(1, 4096)
  path: string;
}

export class UploadModelQuery {
  @ApiProperty({ minLength: 1, maxLength: 200 })
  @IsString()
  @Length(1, 200)
  @Matches(NAME, { message: NAME_RULE })
  name: string;
}

export class BuiltinModelDto {
  @ApiProperty({ example: 'tiny-1m' }) name: string;
  @ApiProperty({ example: 'LlamaForCausalLM' }) architecture: string;
  @ApiProperty({ type: 'integer' }) hidden_size: number;
  @ApiProperty({ type: 'integer' }) num_hidden_layers: number;
  @ApiProperty({ type: 'integer' }) vocab_size: number;
  @ApiProperty({ type: 'integer', description: 'Approximate parameter count.' }) parameters: number;
}

export class ModelDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) project_id: string;
  @ApiProperty() name: string;
  @ApiProperty({ enum: ['path', 'upload'] }) source: string;
  @ApiProperty() path: string;
  @ApiProperty({ type: String, nullable: true }) architecture: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The parsed config.json.' })
  hf_config: Record<string, unknown>;
  @ApiProperty({ type: 'integer', nullable: true }) size_bytes: number | null;
  @ApiProperty({ type: String, format: 'date-time' }) created_at: Date;
}

export class ModelListDto {
  @ApiProperty({ type: [BuiltinModelDto] }) builtin: BuiltinModelDto[];
  @ApiProperty({ type: [ModelDto] }) items: ModelDto[];
}
